/* Random *valid* Kiln models (JSON text), from a seed: random ops from the op table with random
 * shapes and attributes within their rules. Each seed picks a family so that every run covers
 * the kernels prominently:
 *   0 convolution: Conv (odd sizes, 1x1 spatial, strides, dilations, groups, depthwise,
 *     asymmetric and auto pads, with and without bias), ConvTranspose (strides, output_padding,
 *     groups), pools, BatchNormalization, each followed by a fused epilogue chain;
 *   1 matrices: Gemm (transA/transB, alpha/beta, constant or computed B, C of every broadcast
 *     shape), MatMul (batch broadcast either side, constant or computed B), epilogue chains;
 *   2 structure: long element-wise chains (past the fusion limit), wide Concat fan-in, Split
 *     fan-out, deep graphs;
 *   3 a mix of all of the above plus Softmax, LogSoftmax, LayerNormalization, Transpose,
 *     Reshape, Flatten, Reduce*, Pad, Slice.
 * Values stay in a range where float32 and the double-precision interpreter agree (weights
 * scaled by 1/sqrt(fan-in), Exp only after a bounding op, Log/Sqrt/Div on |x| + 1). */
#ifndef KILN_RGRAPH_H
#define KILN_RGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The model for seed (malloc'd, NUL-terminated JSON); *len receives its length. */
char *rg_generate(uint64_t seed, size_t *len);

/* From now on, weights (f32 constants of rank 2 and up) get this fraction of exact zeros and
 * some all-zero output channels (0: none, the default); the rest of each graph is unchanged. */
void rg_set_zero_fraction(double f);

/* From now on, every seed makes a convolution-family graph whose Convs are mostly 3x3 stride 1
 * with 8-40 output channels and random pads (what Winograd computes; test_random_graphs
 * --winograd forces it). */
void rg_set_winograd_convs(bool on);

/* From now on (b > 0), every seed makes a convolution-family graph whose inputs and most Convs
 * (one group) have channel counts that are multiples of b: runs the blocked layout takes
 * (test_random_graphs --nchwc). */
void rg_set_channel_block(int b);

/* Deterministic uniform floats in [-1, 1) for input data (splitmix64 from state). */
float rg_uniform(uint64_t *state);

#endif
