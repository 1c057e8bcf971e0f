/*
 * Experiment tool (not built by CMake): softmax cross-entropy forward and
 * backward over logits [rows, 10] on device 0:0, run `reps` times; with
 * kernel_profile.so preloaded, each kernel's device time. Two builds of the
 * library compared by LD_LIBRARY_PATH (same API):
 *
 *   gcc -O1 -Iinclude bench/experiments/ce_time.c -o /tmp/ce_time -Lbuild -lclgrad
 *   LD_LIBRARY_PATH=build LD_PRELOAD=/tmp/kernel_profile.so /tmp/ce_time 419430 30
 *
 * Figures: bench/RESULTS.md, 2026-12-02 (sixth session).
 */
#include <clgrad.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv){
  long rows = argc > 1 ? atol(argv[1]) : 419430; int reps = argc > 2 ? atoi(argv[2]) : 30;
  clg_context *c; if (clg_context_create("0:0", &c)) { puts(clg_context_errmsg(c)); return 1; }
  clg_graph *g; clg_graph_create(c, &g);
  const int64_t s[2] = {rows, 10}; clg_tensor z = clg_param(g, 2, s), l = clg_labels(g, 1, &s[0]);
  clg_tensor loss = clg_softmax_cross_entropy(g, z, l);
  if (clg_backward(g, loss)) { puts(clg_context_errmsg(c)); return 1; }
  clg_init_normal(g, z, 0, 2, 1); clg_random_bits(g, l, 3, 0);
  int32_t *lab = malloc(rows * 4); clg_tensor_get_i32(g, l, lab, rows); for (long i = 0; i < rows; i++) lab[i] = (lab[i] & 0x7fffffff) % 10; clg_tensor_set_i32(g, l, lab, rows);
  for (int r = 0; r < reps; r++) clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD);
  clg_graph_wait(g); clg_context_destroy(c); return 0; }
