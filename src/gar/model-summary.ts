import type { Discriminator } from './discriminator.ts';
import type { Generator } from './generator.ts';
import type { ParameterOwner } from './parameters.ts';

/** A table of a network's layers: name, parameter count, one-line description; total at the end. */
export function formatModelSummary(model: Generator | Discriminator): string {
  const rows: [string, string, string][] = [['layer', 'params', 'description']];
  const add = (name: string, owner: ParameterOwner) => rows.push([name, String(owner.namedParameters().reduce((s, [, v]) => s + v.size, 0)), owner.describe()]);
  if ('mapping' in model) {
    model.mapping.layers.forEach((layer, i) => add(`mapping.fc${i}`, layer));
    for (const block of model.synthesis.blocks) {
      const prefix = `synthesis.b${block.config.resolution}`;
      if (block.conv0) add(`${prefix}.conv0`, block.conv0);
      add(`${prefix}.conv1`, block.conv1);
      add(`${prefix}.torgb`, block.toRgb);
    }
  } else {
    add('fromrgb', model.fromRgb);
    for (const block of model.blocks) add(`b${block.config.resolution}`, block);
    add('epilogue.conv', model.epilogueConv);
    add('epilogue.fc', model.epilogueFc);
    add('epilogue.out', model.output);
  }
  const total = model.namedParameters().reduce((s, [, v]) => s + v.size, 0);
  rows.push(['total', String(total), model.describe()]);
  const widths = [0, 1].map((c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => `${r[0].padEnd(widths[0])}  ${r[1].padStart(widths[1])}  ${r[2]}`).join('\n') + '\n';
}
