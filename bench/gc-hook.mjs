// Preloaded into the gateway by bench/run.mjs (`node --expose-gc --import …`): SIGUSR2 runs a
// full GC, so the memory figure can be read both as-is and with garbage collected.
process.on('SIGUSR2', () => globalThis.gc?.());
