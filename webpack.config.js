// Bundles the extension host side (Node, `vscode` external), the standalone debug adapter and the
// CLI (Node), and the webview code from media/ (browser).
'use strict';
const path = require('path');
const webpack = require('webpack');

const nodeBundle = (name, entry, extra = {}) => ({
  name,
  target: 'node',
  mode: 'none',
  entry: { [name]: entry },
  output: { path: path.resolve(__dirname, 'dist'), filename: '[name].js', libraryTarget: 'commonjs2' },
  externals: { vscode: 'commonjs vscode' },
  resolve: { extensions: ['.ts', '.js'] },
  module: { rules: [{ test: /\.ts$/, exclude: /node_modules/, use: [{ loader: 'ts-loader', options: { transpileOnly: true } }] }] },
  devtool: 'nosources-source-map',
  ...extra,
});

module.exports = [
  nodeBundle('extension', './src/extension.ts'),
  nodeBundle('debugAdapter', './src/adapter/main.ts'),
  nodeBundle('cli', './src/cli/main.ts', {
    plugins: [new webpack.BannerPlugin({ banner: '#!/usr/bin/env node', raw: true, entryOnly: true })],
  }),
  {
    name: 'webview',
    target: 'web',
    mode: 'none',
    entry: { webview: './media/main.ts' },
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
