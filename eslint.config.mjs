// Typed lint for the whole tree, and the layering of src/ (docs/ARCHITECTURE.md): each folder is one
// layer and imports only from the layers below it. The pure layers never import `vscode`: only the
// extension entry point and src/ui may.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const VSCODE = { name: 'vscode', message: 'Only src/extension.ts and src/ui/ may import vscode.' };

/** Bottom-up: a folder may import the folders listed before it in its own entry, nothing else of src/. */
const LAYERS = {
  shared: [],
  gdb: ['shared'],
  elf: [],
  disasm: [],
  aarch64: ['shared'],
  pvmfw: ['aarch64', 'shared'],
  profiles: ['aarch64', 'pvmfw', 'shared'],
  analysis: ['aarch64', 'pvmfw', 'profiles', 'elf', 'shared'],
  target: ['gdb', 'aarch64', 'elf', 'shared'],
  adapter: ['gdb', 'elf', 'disasm', 'aarch64', 'pvmfw', 'profiles', 'analysis', 'target', 'shared'],
  cli: ['gdb', 'elf', 'aarch64', 'pvmfw', 'profiles', 'analysis', 'target', 'shared'],
  ui: ['adapter', 'analysis', 'aarch64', 'pvmfw', 'profiles', 'shared'],
};
const FOLDERS = Object.keys(LAYERS);

function layerRule(folder) {
  const forbidden = FOLDERS.filter((f) => f !== folder && !LAYERS[folder].includes(f));
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: folder === 'ui' ? [] : [VSCODE],
          patterns: [
            {
              group: forbidden.flatMap((f) => [`../${f}`, `../${f}/*`]),
              message: `src/${folder} may import only ${LAYERS[folder].map((f) => `src/${f}`).join(', ') || 'nothing else of src/'} (the layering of docs/ARCHITECTURE.md).`,
            },
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'guest/**', '.vscode-test/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      'no-restricted-imports': ['error', { paths: [VSCODE] }],
    },
  },
  ...FOLDERS.map(layerRule),
  {
    files: ['src/extension.ts', 'test/vscode/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
