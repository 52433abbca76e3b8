// SPDX-License-Identifier: GPL-2.0-only
/* A program that runs for tens of milliseconds and marks when it has
 * started and finished, for the test that RcuBarrier waits for it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

volatile __u32 started;
volatile __u32 finished;
volatile __u64 spins;

static long spin(__u32 i, void *ctx)
{
	spins++;
	return 0;
}

SEC("xdp")
int xdpfw_slow(struct xdp_md *ctx)
{
	int k;

	started = 1;
	for (k = 0; k < 4; k++)
		bpf_loop(1 << 23, spin, 0, 0);
	finished = 1;
	return XDP_PASS;
}
