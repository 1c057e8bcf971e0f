/*
 * Experiment (not built by CMake): does PoCL vectorise exp across
 * work-items, or do elementwise kernels need explicit vector types?
 *   c1  y = x                          (copy, for the ceiling)
 *   s1  y = 1 / (1 + e^-x), one float per work-item (as cl/elementwise.cl)
 *   s8  the same on float8 (vload8/vstore8), one float8 per work-item
 * over 2^22 floats, best of 7, bytes read + written per second; then how
 * many of s8's results differ from s1's (vector and scalar exp round
 * differently in the last bit).
 *
 *   gcc -O2 -o /tmp/vector_sigmoid bench/experiments/vector_sigmoid.c -lOpenCL && /tmp/vector_sigmoid
 *
 * The first OpenCL device of the first platform (PoCL on the CI machine).
 * Figures: bench/RESULTS.md, 2026-12-01 (second session).
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static const char *src =
"__kernel void s1(__global const float *x, __global float *y, long n){ for(long i=get_global_id(0);i<n;i+=get_global_size(0)) y[i]=1.0f/(1.0f+exp(-x[i])); }\n"
"__kernel void s8(__global const float *x, __global float *y, long n){ for(long q=get_global_id(0);q<n/8;q+=get_global_size(0)){ float8 a=vload8(q,x); vstore8(1.0f/(1.0f+exp(-a)),q,y);} }\n"
"__kernel void c1(__global const float *x, __global float *y, long n){ for(long i=get_global_id(0);i<n;i+=get_global_size(0)) y[i]=x[i]; }\n";
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(void){
  cl_platform_id p; cl_device_id d; cl_int e; clGetPlatformIDs(1,&p,NULL); clGetDeviceIDs(p,CL_DEVICE_TYPE_ALL,1,&d,NULL);
  cl_context c=clCreateContext(NULL,1,&d,NULL,NULL,&e); cl_command_queue q=clCreateCommandQueue(c,d,0,&e);
  cl_program pr=clCreateProgramWithSource(c,1,&src,NULL,&e); e=clBuildProgram(pr,1,&d,"-cl-std=CL1.2",NULL,NULL); if(e){printf("build %d\n",e);return 1;}
  long n=1<<22; float *h=malloc(n*4); for(long i=0;i<n;i++) h[i]=(i%1000)/500.0f-1;
  cl_mem x=clCreateBuffer(c,CL_MEM_READ_WRITE|CL_MEM_COPY_HOST_PTR,n*4,h,&e), y=clCreateBuffer(c,CL_MEM_READ_WRITE,n*4,NULL,&e);
  const char *names[]={"c1","s1","s8"};
  for(int k=0;k<3;k++){ cl_kernel kk=clCreateKernel(pr,names[k],&e); clSetKernelArg(kk,0,8,&x); clSetKernelArg(kk,1,8,&y); clSetKernelArg(kk,2,8,&n);
    size_t g = k==2? n/8 : n, l=256; double best=1e9;
    for(int r=0;r<7;r++){ double t0=now(); clEnqueueNDRangeKernel(q,kk,1,NULL,&g,&l,0,NULL,NULL); clFinish(q); double t=now()-t0; if(t<best)best=t; }
    printf("%s %.2f GB/s\n",names[k],8.0*n/best/1e9);
    if (k==2) { float *o=malloc(n*4), *o1=malloc(n*4); clEnqueueReadBuffer(q,y,1,0,n*4,o,0,NULL,NULL);
      cl_kernel k1=clCreateKernel(pr,"s1",&e); clSetKernelArg(k1,0,8,&x); clSetKernelArg(k1,1,8,&y); clSetKernelArg(k1,2,8,&n); size_t g1=n; clEnqueueNDRangeKernel(q,k1,1,NULL,&g1,&l,0,NULL,NULL); clEnqueueReadBuffer(q,y,1,0,n*4,o1,0,NULL,NULL);
      long diff=0; for(long i=0;i<n;i++) diff += o[i]!=o1[i]; printf("float8 vs scalar: %ld of %ld differ\n",diff,n); }
  }
  return 0; }
