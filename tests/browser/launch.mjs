// launch.mjs -- Debian's Chromium, headless, as every browser test starts
// it: no sandbox (root in CI), nothing that calls out to the network.
// playwright-core comes from tests/browser/node_modules (tests/run installs
// it), or from ZSSE_NODE_MODULES: `make distcheck` tests an unpacked copy
// of the tree that has none of its own.
const where = process.env.ZSSE_NODE_MODULES;
const { chromium } = await import(where ? `${where}/playwright-core/index.mjs`
                                        : 'playwright-core');

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
