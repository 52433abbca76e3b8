// SPDX-License-Identifier: GPL-2.0-only
/* A program the verifier must refuse (a packet read without a bounds
 * check), for the test that BpfError carries the verifier log. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdpfw_rejected(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	return data[20] == 0x45 ? XDP_DROP : XDP_PASS;
}
