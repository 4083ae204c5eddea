import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.ts';
await initBackend({ backend: 'wasm' });
function t(name:string,f:()=>tf.Tensor){const once=()=>{const s=performance.now();tf.tidy(()=>{f().dataSync();});return performance.now()-s;};once();const ts=[once(),once(),once(),once(),once(),once(),once()].sort((a,b)=>a-b);console.log(name.padEnd(34),ts[3].toFixed(2));}
const K=16640;
const A=tf.randomNormal([64,K]),B=tf.randomNormal([K,64]);
const x=tf.randomNormal([1,128,128,64]) as tf.Tensor4D, w=tf.randomNormal([3,3,64,64]) as tf.Tensor4D;
for (let rep=0;rep<2;rep++){
t('fwd conv',()=>tf.conv2d(x,w,1,'same'));
t('mm 64xKx64',()=>tf.matMul(A,B));
for(const n of [4,8,16,32,65]){const Ab=tf.randomNormal([n,64,K/n]),Bb=tf.randomNormal([n,K/n,64]);t(`bmm ${n} chunks + sum`,()=>tf.sum(tf.matMul(Ab,Bb),0));}
const BT=tf.randomNormal([64,K]); t('mm A·Bt transposeB',()=>tf.matMul(A,BT,false,true));
}
