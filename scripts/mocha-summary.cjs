// A mocha reporter: the usual spec output, plus one line per run appended to the file named by
// TCPTUN_TEST_SUMMARY so the root test command can print a single total at the end.
const Mocha = require('mocha');
const { appendFileSync } = require('node:fs');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const file = process.env.TCPTUN_TEST_SUMMARY;
      if (!file) return;
      const s = this.stats;
      appendFileSync(file, `${process.cwd()}\t${s.passes}\t${s.failures}\t${s.pending}\n`);
    });
  }
}
module.exports = SummaryReporter;
