// Bundles the extension host side (Node, `vscode` external), the standalone debug adapter and the
// CLI (Node), and the webview code from media/ (browser).
'use strict';
const path = require('path');
const webpack = require('webpack');

// Capstone (src/disasm) is an Emscripten module that loads capstone.wasm from the directory of the
// script that holds it: in a bundle, dist/. Emit the file there.
class CopyCapstoneWasm {
  apply(compiler) {
    compiler.hooks.thisCompilation.tap('CopyCapstoneWasm', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'CopyCapstoneWasm', stage: webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL }, () => {
        const wasm = require.resolve('@alexaltea/capstone-js/dist/capstone.wasm');
        compilation.emitAsset('capstone.wasm', new webpack.sources.RawSource(require('fs').readFileSync(wasm)));
      });
    });
  }
}

/** TypeScript through ts-loader; `compilerOptions` override tsconfig.json's for one bundle. */
const tsRules = (compilerOptions = {}) => ({
  rules: [
    {
      test: /\.ts$/,
      exclude: /node_modules/,
      use: [{ loader: 'ts-loader', options: { transpileOnly: true, compilerOptions } }],
    },
  ],
});

const nodeBundle = (name, entry, extra = {}) => ({
  name,
  target: 'node',
  mode: 'none',
  entry: { [name]: entry },
  output: { path: path.resolve(__dirname, 'dist'), filename: '[name].js', libraryTarget: 'commonjs2' },
  externals: { vscode: 'commonjs vscode' },
  resolve: { extensions: ['.ts', '.js'] },
  module: tsRules(),
  devtool: 'nosources-source-map',
  plugins: [new CopyCapstoneWasm()],
  ...extra,
});

module.exports = [
  nodeBundle('extension', './src/extension.ts'),
  nodeBundle('debugAdapter', './src/adapter/main.ts'),
  // The command (dist/cli.js) is a small loader that runs the CLI's bundle (dist/cli-main.js) through
  // V8's code cache (src/cli/codeCache.ts); its __dirname is dist/, where the bundle is.
  nodeBundle('cli', './src/cli/cli.ts', {
    node: { __dirname: false, __filename: false },
    devtool: false,
    plugins: [new webpack.BannerPlugin({ banner: '#!/usr/bin/env node', raw: true, entryOnly: true })],
  }),
  nodeBundle('cli-main', './src/cli/main.ts', {
    // ES modules for webpack (tsconfig's CommonJS is for out/): the production build then joins the
    // CLI's ~90 modules into one scope instead of a function and an export getter each (232 -> 179
    // KiB, and less to load and evaluate at every start).
    module: tsRules({ module: 'es2020', moduleResolution: 'node' }),
    // node:zlib (snapshots) and node:crypto (a program's identity, with --elf) cost milliseconds to
    // load and most commands never use them: each is a stand-in that loads the module on first use
    // (the CLI only uses named functions of them, looked up when called).
    externals: [
      { vscode: 'commonjs vscode' },
      ({ request }, callback) =>
        request === 'node:zlib' || request === 'node:crypto'
          ? callback(null, `var new Proxy({}, { get: (_, key) => require(${JSON.stringify(request)})[key] })`)
          : callback(),
    ],
  }),
  {
    name: 'webview',
    target: 'web',
    mode: 'none',
    entry: { webview: './media/main.ts', memoryView: './media/memoryMain.ts' },
    output: { path: path.resolve(__dirname, 'dist'), filename: '[name].js' },
    resolve: { extensions: ['.ts', '.js'] },
    module: {
      rules: [
        {
          test: /\.ts$/,
          exclude: /node_modules/,
          use: [{ loader: 'ts-loader', options: { configFile: path.resolve(__dirname, 'media/tsconfig.json'), transpileOnly: true } }],
        },
      ],
    },
    devtool: 'nosources-source-map',
  },
];
