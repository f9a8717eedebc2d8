/* An int8 MaxPool 2x2 / stride 2 (no padding, floor mode) that alone reads a QLinearConv's
 * output becomes part of the conv (IrNode.pool): the kernel takes the max of each window's four
 * int32 sums and requantizes it once, storing only the pooled output.
 *
 * Exact: the requantization is y(a) = clamp(y_zp + ((a * mult + 2^(shift-1)) >> shift), -128,
 * 127) (ir_requant_apply; a folded Relu/Clip is in the clamp bounds or the zero point) with
 * mult > 0 (ir_requant_from_real of a positive real). a * mult (exact, in 64 bits) is
 * non-decreasing in a, adding a constant and an arithmetic shift (floor division by 2^shift)
 * keep the order, so does adding y_zp, and clamping to a range is non-decreasing too; so y is
 * non-decreasing and max(y(a0), y(a1), y(a2), y(a3)) = y(max(a0, a1, a2, a3)) for every input,
 * ties and saturation included (equal sums give equal bytes; sums on either side of a clamp
 * bound give the bound). MaxPool of int8 keeps its input's scale and zero point, so the pooled
 * bytes are the conv's bytes pooled. A floor-mode pool skips a last odd row / column: the kernel
 * does not compute those outputs at all.
 *
 * Only for the kernels that implement it: the Arm DSP int8 Winograd, whose 2x2 output tiles are
 * the pool's windows; the Arm DSP im2col pairs tile (its panel in window order, the max of a
 * column pair carried to the strip of the window's bottom pair); the loop nest (depthwise
 * convs) on scalar targets. The loop nest is also the codegen's fallback for a fused node
 * whatever its kernel.
 * Refused: pads, ceil_mode, dilations, other windows or strides, the Indices output, a conv
 * output that is a graph output or read by anything else, graphs with run-time dims. */
#include <stdlib.h>
#include <string.h>

#include "conv_params.h"
#include "pass.h"
#include "quant.h"

static bool pool_fusable(const IrNode *u, const IrValue *y) {
  if (u->op != IR_OP_MAX_POOL || u->inputs[0] != y || u->n_epilogue || u->pool) return false;
  if (u->n_outputs > 1 && u->outputs[1]) return false; /* Indices */
  const char *ap = ir_attr_s(u, "auto_pad");
  if (ap && strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return false;
  if (ir_attr_i(u, "ceil_mode")) return false;
  IrConvParams p;
  if (!ir_conv_params(u, &p, NULL) || p.spatial != 2) return false;
  return p.kh == 2 && p.kw == 2 && p.stride_h == 2 && p.stride_w == 2 && p.dil_h == 1 &&
         p.dil_w == 1 && !p.pad_t && !p.pad_l && !p.pad_b && !p.pad_r && p.oh == p.h / 2 &&
         p.ow == p.w / 2 && p.oh > 0 && p.ow > 0;
}

/* The Arm DSP im2col pairs tile (cg_quant.c lower_qconv_pairs) fuses the pool with panels of
 * at least 2 output rows: its 3 x 2 tile's column pairs are the windows' rows */
static bool pairs_panel(const IrNode *n) {
  IrNode tmp;
  IrValue *ins[3];
  IrConvParams p;
  IrQConvPanel q;
  ir_qconv_as_conv(n, &tmp, ins);
  return ir_conv_params(&tmp, &p, NULL) &&
         ir_qconv_panel_of(&p, n->scratch_bytes, true, 4 /* the M4's strip */, &q) && q.rows >= 2;
}

/* The QLookup that alone reads head n's int8 output (NULL: none, or not fusable) */
static IrNode *lone_lookup(IrGraph *g, const IrNode *n, int i) {
  IrValue *y = n->outputs[0];
  if (!y || y->dtype != IR_I8 || pass_use_count(g, y) != 1) return NULL;
  for (int j = i + 1; j < g->n_nodes; j++) {
    IrNode *u = g->nodes[j];
    for (int k = 0; k < u->n_inputs; k++)
      if (u->inputs[k] == y)
        return u->op == IR_OP_QLOOKUP && k == 0 && !u->n_epilogue && !u->pool && !u->lookup &&
                       u->outputs[0] && u->outputs[0]->dtype == IR_I8
                   ? u
                   : NULL;
  }
  return NULL;
}

/* An int8 QLookup (y = table[x + 128]) that alone reads a QLinearConv's or QGemm's output joins
 * the head on scalar targets (IrNode.lookup): its requantized byte indexes the table in the
 * epilogue, one load before the one store, no pass of its own and no buffer between them.
 * Exact by construction: the same byte indexes the same table. Every int8 kernel of a scalar
 * target (the Arm DSP tiles, Winograd, the loops, the sparse kernels) requantizes one output at
 * a time through cg_qrequant, which maps the byte (codegen/cg_quant.c). After the fused MaxPool
 * (the lookup reads the pooled bytes: table[max(...)] as written). Refused like the pool: a
 * head output that is a graph output or read by anything else, run-time dims; and a lookup
 * before a MaxPool stays a node (the pool then reads the lookup, not the conv, and is not
 * fused). */
static bool fuse_lookups(IrGraph *g, const PassOptions *o, bool *dead) {
  if (!o || o->vec_lanes != 1) return false; /* vector targets keep their lookup passes */
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *n = g->nodes[i];
    if ((n->op != IR_OP_QLINEAR_CONV && n->op != IR_OP_QGEMM) || n->n_epilogue || n->lookup ||
        dead[i])
      continue;
    IrNode *u = lone_lookup(g, n, i);
    if (!u) continue;
    n->lookup = u;
    ir_node_set_output(n, 0, u->outputs[0]);
    u->outputs[0]->producer_slot = 0;
    dead[u->id] = true;
    changed = true;
  }
  return changed;
}

bool pass_qpool(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)d;
  if (g->n_dyn) return false; /* run-time dims (ir/dyn.c): the kernels' static shapes only */
  bool *dead = pass_dead_flags(g), changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *n = g->nodes[i];
    /* the kernels that implement it: the Arm DSP Winograd; the loop nest (depthwise) on scalar
     * targets, where it has no vector form that the fusion would give up */
    bool kernel = n->kernel == IR_KERNEL_QCONV_WINOGRAD ||
                  (n->kernel == IR_KERNEL_DEFAULT && o && o->vec_lanes == 1) ||
                  (n->kernel == IR_KERNEL_QCONV_DOT4 && o && o->arm_dsp && pairs_panel(n));
    if (n->op != IR_OP_QLINEAR_CONV || !kernel || n->n_epilogue || n->pool || dead[i]) continue;
    IrValue *y = n->outputs[0];
    if (!y || y->dtype != IR_I8 || y->rank != 4 || pass_use_count(g, y) != 1) continue;
    IrNode *u = NULL;
    for (int j = i + 1; j < g->n_nodes && !u; j++)
      for (int k = 0; k < g->nodes[j]->n_inputs; k++)
        if (g->nodes[j]->inputs[k] == y) u = g->nodes[j];
    if (!u || !pool_fusable(u, y)) continue;
    n->pool = u;
    ir_node_set_output(n, 0, u->outputs[0]);
    u->outputs[0]->producer_slot = 0;
    dead[u->id] = true;
    changed = true;
  }
  changed = fuse_lookups(g, o, dead) || changed;
  return pass_drop_dead(g, dead, changed);
}
