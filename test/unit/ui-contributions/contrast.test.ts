// The WCAG contrast arithmetic the UI test applies to the MMIO Guard panel's computed styles.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { contrastOf, contrastRatio, parseCssColor, type Rgba } from '../../vscode/contrast';

const WHITE: Rgba = [255, 255, 255, 1];
const BLACK: Rgba = [0, 0, 0, 1];

void describe('WCAG contrast from computed styles', () => {
  void test('black on white is 21:1, a colour on itself 1:1', () => {
    assert.equal(contrastRatio(BLACK, WHITE), 21);
    assert.equal(contrastRatio(WHITE, WHITE), 1);
  });

  void test('the AA threshold falls between #777 and #767676 on white', () => {
    // #767676 is the lightest grey that passes 4.5:1 on white; #777777 just fails.
    assert.ok(contrastRatio([0x76, 0x76, 0x76, 1], WHITE) >= 4.5);
    assert.ok(contrastRatio([0x77, 0x77, 0x77, 1], WHITE) < 4.5);
  });

  void test('computed colours in the syntaxes Chromium writes', () => {
    assert.deepEqual(parseCssColor('rgb(59, 59, 59)'), [59, 59, 59, 1]);
    assert.deepEqual(parseCssColor('rgba(204, 204, 204, 0.7)'), [204, 204, 204, 0.7]);
    assert.deepEqual(parseCssColor('color(srgb 1 0 0 / 0.5)'), [255, 0, 0, 0.5]);
    assert.deepEqual(parseCssColor('rgba(0, 0, 0, 0)'), [0, 0, 0, 0]);
    assert.equal(parseCssColor('var(--x)'), undefined);
  });

  void test('translucent text and backgrounds are composited before the ratio', () => {
    // Dark Modern's yellow on its editor background passes; Light Modern's charts.yellow on white does not.
    const dark = contrastOf({ what: 'x', color: 'rgb(204, 167, 0)', backgrounds: ['rgb(31, 31, 31)'] });
    assert.ok(dark.ratio > 4.5, String(dark.ratio));
    const light = contrastOf({
      what: 'x',
      color: 'rgb(191, 136, 3)',
      backgrounds: ['rgba(0, 0, 0, 0)', 'rgb(255, 255, 255)'],
    });
    assert.ok(light.ratio < 3.5, String(light.ratio));
    // Half-transparent black text on white is a mid grey.
    const half = contrastOf({ what: 'x', color: 'rgba(0, 0, 0, 0.5)', backgrounds: [] });
    assert.ok(Math.abs(half.ratio - contrastRatio([127.5, 127.5, 127.5, 1], WHITE)) < 1e-9);
  });
});
