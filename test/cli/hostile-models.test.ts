// Issue 17, items 9–11: model files from users and downloads (scripts/hostile/model-cases.ts):
// paths that leave their folder, a gzip bomb, a mesh without faces, indices out of range,
// malformed safetensors, absurd checkpoint configs. Each ends with exit 6 and its reason.
import { MODEL_CASES } from '../../scripts/hostile/model-cases.ts';
import { testHostileCases } from '../helpers/hostile.ts';

testHostileCases(MODEL_CASES);
