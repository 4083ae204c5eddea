import { Reconstructor, decodeCompactModel, initBackend } from 'facegar';
await initBackend({ backend: 'wasm', wasmPath: '/wasm/' }); // the tfjs-backend-wasm .wasm files
const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const graph = async (name) => ({ json: await (await fetch(`/detector/${name}.json`)).json(), weights: [await bytes(`/detector/${name}.bin`)] });
const model = decodeCompactModel(await bytes('/models/ict-facekit.fgmm'));
const reconstructor = await Reconstructor.create({ model, detector: { blazeface: await graph('blazeface'), facemesh: await graph('facemesh') } });
const img = document.querySelector('img');
await img.decode();
const canvas = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
canvas.getContext('2d').drawImage(img, 0, 0);
const { faces } = await reconstructor.reconstruct(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height));
document.title = `${faces[0].vertices.length / 3} vertices, landmark error ${faces[0].landmarkErrorPx.toFixed(2)} px`;
