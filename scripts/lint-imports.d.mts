/** Returns the layering violations ("file: message") of the package at `root`; empty when clean. */
export function lintPackage(root: string): string[];
