import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '/work/main/src/engine/backend.ts';
await initBackend({ backend: 'wasm' });
const SIZE=128,C=64,L=128,B=4;
const r=(s:number[],seed:number,sc=1)=>tf.mul(tf.randomNormal(s,0,1,'float32',seed),sc);
const blocks=Array.from({length:B},(_,i)=>({affine:r([L,C],10+i,1/Math.sqrt(L)) as tf.Tensor2D,weight:r([3,3,C,C],20+i) as tf.Tensor4D,bias:tf.zeros([C]) as tf.Tensor1D}));
function mc(x:tf.Tensor4D,lat:tf.Tensor2D,b:any){const style=tf.add(tf.reshape(tf.matMul(lat,b.affine),[1,1,C,1]),1);const m=tf.mul(b.weight,style);const d=tf.rsqrt(tf.add(tf.sum(tf.square(m),[0,1,2],true),1e-8));const y=tf.conv2d(x,tf.mul(m,d) as tf.Tensor4D,1,'same');return tf.mul(tf.leakyRelu(tf.add(y,b.bias),0.2),Math.SQRT2);}
const x=r([1,SIZE,SIZE,C],1),lat=r([1,L],2),tgt=r([1,SIZE,SIZE,C],3);
const vars=[x,lat,...blocks.flatMap(b=>[b.affine,b.weight,b.bias])];
const f=(...vs:tf.Tensor[])=>{const [xs,ls,...rest]=vs;let h=xs as tf.Tensor4D;for(let i=0;i<B;i++)h=mc(h,ls as tf.Tensor2D,{affine:rest[3*i],weight:rest[3*i+1],bias:rest[3*i+2]});return tf.mean(tf.square(tf.sub(h,tgt)));};
const run=()=>tf.tidy(()=>{const g=tf.grads(f)(vars);g.forEach(t=>t.dataSync());});
run();run();
const p=await tf.profile(run);
const agg=new Map<string,[number,number]>();
for(const k of p.kernels){const t=await k.kernelTimeMs as number;const a=agg.get(k.name)??[0,0];a[0]+=typeof t==='number'?t:0;a[1]++;agg.set(k.name,a);}
console.log([...agg].sort((a,b)=>b[1][0]-a[1][0]).map(([n,[t,c]])=>`${n.padEnd(28)} ${t.toFixed(1).padStart(8)} ms  x${c}`).join('\n'));
let t0=performance.now();run();console.log('fb',performance.now()-t0);
