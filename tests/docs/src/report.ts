// `pnpm report`: checks every README block (strict or not) and prints the table per file.
import { checkFiles, formatReport, markdownFiles } from './check.js';

const files = process.argv.length > 2 ? process.argv.slice(2) : markdownFiles();
const results = checkFiles(files, { run: process.env.DOCS_RUN !== '0' });
process.stdout.write(`${formatReport(results)}\n`);
process.exitCode = results.some((r) => r.problems.length > 0) ? 1 : 0;
