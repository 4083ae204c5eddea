import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.ts';
await initBackend({ backend: 'wasm' });
const H=128,C=64;
const x=tf.randomNormal([1,H,H,C],0,1,'float32',1) as tf.Tensor4D, dy=tf.randomNormal([1,H,H,C],0,1,'float32',2) as tf.Tensor4D;
function t(name:string,f:()=>tf.Tensor){const once=()=>{const s=performance.now();tf.tidy(()=>{f().dataSync();});return performance.now()-s;};once();const ts=[once(),once(),once(),once(),once()].sort((a,b)=>a-b);console.log(name.padEnd(30),ts[2].toFixed(1));}
const ref=tf.tidy(()=>tf.engine().runKernel("Conv2DBackpropFilter",{x,dy},{strides:1,pad:"same",dataFormat:"NHWC",dilations:1,filterShape:[3,3,C,C]}) as tf.Tensor);
t('current',()=>tf.engine().runKernel("Conv2DBackpropFilter",{x,dy},{strides:1,pad:"same",dataFormat:"NHWC",dilations:1,filterShape:[3,3,C,C]}) as tf.Tensor);
t("new (via kernel)",()=>tf.engine().runKernel("Conv2DBackpropFilter",{x,dy},{strides:1,pad:"same",dataFormat:"NHWC",dilations:1,filterShape:[3,3,C,C]}) as tf.Tensor);
t('fwd conv',()=>tf.conv2d(x,tf.randomNormal([3,3,C,C]) as tf.Tensor4D,1,'same'));
const A=tf.randomNormal([576,H*H]), B=tf.randomNormal([H*H,64]);
t('matmul 576x16384x64',()=>tf.matMul(A,B));
const A2=tf.randomNormal([64,H*H]);
t('matmul 64x16384x64 x9',()=>{let s:tf.Tensor=tf.matMul(A2,B);for(let i=1;i<9;i++)s=tf.add(s,tf.matMul(A2,B));return s;});
const BT=tf.randomNormal([64,H*H]), AT=tf.randomNormal([H*H,576]);
t('matmul 64x16384x576',()=>tf.matMul(BT,AT));
// flat-offset trick
const Wp=H+2;
function flat(){return tf.tidy(()=>{
 const xcf=tf.reshape(tf.pad(tf.transpose(x,[3,0,1,2]),[[0,0],[0,0],[1,2],[1,1]]),[C,(H+3)*Wp]); // extra bottom row so last shift fits
 const L=H*Wp;
 const wins=[] as tf.Tensor[];
 for(let a=0;a<3;a++)for(let b=0;b<3;b++)wins.push(tf.slice(xcf,[0,a*Wp+b],[C,L]));
 const W=tf.concat(wins,0);
 const dyg=tf.reshape(tf.pad(dy,[[0,0],[0,0],[0,2],[0,0]]),[L,C]);
 return tf.reshape(tf.matMul(W,dyg),[3,3,C,C]);});}
t('flat trick',flat);
t('flat: transpose+pad',()=>tf.reshape(tf.pad(tf.transpose(x,[3,0,1,2]),[[0,0],[0,0],[1,2],[1,1]]),[C,(H+3)*Wp]));
const xcf=tf.reshape(tf.pad(tf.transpose(x,[3,0,1,2]),[[0,0],[0,0],[1,2],[1,1]]),[C,(H+3)*Wp]);
t('flat: 9 slices+concat',()=>{const w=[];for(let a=0;a<3;a++)for(let b=0;b<3;b++)w.push(tf.slice(xcf,[0,a*Wp+b],[C,H*Wp]));return tf.concat(w,0);});
t('flat: 9 slices',()=>{const w=[];for(let a=0;a<3;a++)for(let b=0;b<3;b++)w.push(tf.slice(xcf,[0,a*Wp+b],[C,H*Wp]));return w[8];});
const W=tf.concat(Array.from({length:9},(_,i)=>tf.slice(xcf,[0,Math.floor(i/3)*Wp+i%3],[C,H*Wp])),0);
const dyg=tf.reshape(tf.pad(dy,[[0,0],[0,0],[0,2],[0,0]]),[H*Wp,C]);
t('flat: matmul',()=>tf.matMul(W,dyg));
console.log('err', tf.tidy(()=>tf.max(tf.abs(tf.sub(flat(),ref))).dataSync()[0]/tf.max(tf.abs(ref)).dataSync()[0]));
