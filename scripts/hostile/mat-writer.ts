// The .mat writer of src/io/mat-file.ts in the pieces the hostile .mat files of
// scripts/hostile/dataset-cases.ts are built from, and for the tests of the reader.
import { concatBytes, deflateBytes, encodeMatFile, matDataElement, matFileHeader, matMatrixElement, type MatVariableToWrite } from '../../src/io/mat-file.ts';

/** One variable to write. */
export type MatVariable = MatVariableToWrite;
/** A data element: tag + payload (small format for ≤ 4 bytes), padded to 8 bytes unless compressed (type 15). */
export const element = matDataElement;
export const concat = concatBytes;
/** A miMATRIX element holding `v`. */
export const matrixElement = matMatrixElement;
/** The 128-byte header of a little-endian level-5 .mat file. */
export const matHeader = (): Uint8Array => matFileHeader("written by facegar's tests");
/** zlib deflate, through the platform's CompressionStream. */
export const deflate = deflateBytes;
/** A .mat file of `variables`, each in a compressed element when `compressed`. */
export const writeMat = (variables: MatVariable[], compressed: boolean): Promise<Uint8Array> =>
  encodeMatFile(variables, { compress: compressed, description: "written by facegar's tests" });
