// Writes the fixed list of real face photos kept aside for measuring GARs and encoders
// (never trained on): about 500 LFW photos chosen by person (every photo of a chosen person,
// so no held-out person is ever trained on) and 500 UTKFace photos, both chosen by a hash of
// the name so the list does not depend on the order files are listed in.
//   node --import tsx scripts/make-heldout-list.ts [--faces DIR] [--out data/heldout-real-faces.txt]
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    faces: { type: 'string', default: resolve('../shared/faces') },
    out: { type: 'string', default: 'data/heldout-real-faces.txt' },
    count: { type: 'string', default: '500' },
  },
});
const perSet = Number(values.count);
const rank = (name: string) => createHash('sha256').update(`heldout:${name}`).digest('hex');

const lfwFiles = readdirSync(join(values.faces!, 'lfw'))
  .filter((f) => f.endsWith('.jpg'))
  .sort();
const byPerson = new Map<string, string[]>();
for (const file of lfwFiles) {
  const person = file.replace(/_\d{4}\.jpg$/, '');
  byPerson.set(person, [...(byPerson.get(person) ?? []), file]);
}
// People with many photos would make the held-out set one person's: take people of at most 4 photos.
const people = [...byPerson.keys()].filter((p) => byPerson.get(p)!.length <= 4).sort((a, b) => rank(a).localeCompare(rank(b)));
const lfw: string[] = [];
for (const person of people) {
  if (lfw.length >= perSet) break;
  lfw.push(...byPerson.get(person)!.map((f) => `lfw/${f}`));
}
const utk = readdirSync(join(values.faces!, 'utkface'))
  .filter((f) => f.endsWith('.jpg'))
  .sort((a, b) => rank(a).localeCompare(rank(b)))
  .slice(0, perSet)
  .map((f) => `utkface/${f}`);
const lines = [
  '# Real face photos held out from GAR and encoder training (paths relative to the faces folder).',
  `# Made by scripts/make-heldout-list.ts: ${lfw.length} LFW photos of ${new Set(lfw.map((f) => f.replace(/_\d{4}\.jpg$/, ''))).size} people (every photo of each), ${utk.length} UTKFace photos.`,
  ...[...lfw, ...utk].sort(),
];
await writeFile(values.out!, lines.join('\n') + '\n');
console.log(`${values.out}: ${lfw.length} LFW + ${utk.length} UTKFace photos`);
