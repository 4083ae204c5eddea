// Issue 17, items 12–13: benchmark files (scripts/hostile/dataset-cases.ts): .mat bombs and a
// long char array for `facegar eval aflw2000`, a .wrl USE bomb for `facegar eval micc`.
import { DATASET_CASES } from '../../scripts/hostile/dataset-cases.ts';
import { testHostileCases } from '../helpers/hostile.ts';

testHostileCases(DATASET_CASES);
