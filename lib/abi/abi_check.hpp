// SPDX-License-Identifier: GPL-2.0-only
// Compile-time checks that abi.h means the same to C++ as to the BPF side.
#pragma once

#include <xdpfw/abi.h>

#include <cstddef>

namespace xdpfw::abi {

static_assert(sizeof(xdpfw_block) == 64 && sizeof(xdpfw_block) % 8 == 0);
static_assert(sizeof(xdpfw_ctrl) == 40);
static_assert(sizeof(xdpfw_event) == 40 + XDPFW_EVENT_SNAP_MAX);
static_assert(offsetof(xdpfw_event, data) == 40);
static_assert(offsetof(xdpfw_ctrl, content_hash) == 16);
// The rules array is mmaped: its stride is the value size rounded up to 8.
static_assert(sizeof(xdpfw_rule) == 16 && sizeof(xdpfw_rule) % 8 == 0);
static_assert(offsetof(xdpfw_rule, action) == 12);
static_assert(offsetof(xdpfw_rule, flags) == 13 && offsetof(xdpfw_rule, sample) == 14);
static_assert(sizeof(xdpfw_limit) == 32 && sizeof(xdpfw_bucket) == 16);
static_assert(sizeof(xdpfw_limit_key) == 16 && offsetof(xdpfw_limit_key, addr) == 8);
static_assert(sizeof(xdpfw_counter) == 16);
static_assert(sizeof(xdpfw_ifindex_key) == 8);
static_assert(sizeof(xdpfw_v6_key) == 20);
static_assert(offsetof(xdpfw_v6_key, addr) == 4);
static_assert(sizeof(xdpfw_last_verdict) == 20);
static_assert(offsetof(xdpfw_policy_hdr, v6_nlens) == 32);
static_assert(offsetof(xdpfw_policy_hdr, v4_host_buckets) == 40);
static_assert(offsetof(xdpfw_policy_hdr, v4_table) == 48);
static_assert(offsetof(xdpfw_policy_hdr, bitmap_stride) == 56);
static_assert(offsetof(xdpfw_policy_hdr, v6_lens) == 64);
static_assert(offsetof(xdpfw_policy_hdr, ether_default) == 60);
static_assert(offsetof(xdpfw_policy_hdr, spec_key) == 328);
static_assert(offsetof(xdpfw_policy_hdr, default_non_ip_action) == 336);
static_assert(offsetof(xdpfw_policy_hdr, v4_host_hint) == 344);
static_assert(sizeof(xdpfw_policy_hdr) == 344 + 2 * 4 * XDPFW_HOST_HINT_WORDS);
static_assert(sizeof(xdpfw_ether_key) == 8);
static_assert(sizeof(xdpfw_spec_range) == 16 && sizeof(xdpfw_spec_field) == 272);
static_assert(offsetof(xdpfw_spec, v4_inline) == 40 && offsetof(xdpfw_spec, f) == 64);
static_assert(offsetof(xdpfw_spec, class_bits) % 8 == 0);
static_assert(offsetof(xdpfw_spec, rules) % 8 == 0);
static_assert(sizeof(xdpfw_words) == sizeof(xdpfw_block));
static_assert(XDPFW_MAX_WORDS * 64 == XDPFW_MAX_RULES);
static_assert(XDPFW_REASON_COUNT == 16);
// The program counts reasons from XDPFW_REASON_FIRST_COUNTED on; the ones
// before it are the rule outcomes the control plane derives.
static_assert(XDPFW_REASON_FIRST_COUNTED == 4 && XDPFW_REASON_RULE_REDIRECT == 3);
static_assert(XDPFW_IFINDEX_SLOTS % XDPFW_BLOCK_SLOTS == 0);
static_assert(XDPFW_SCALAR_TOTAL < (1u << 20));
static_assert(sizeof(xdpfw_ct_key) == 40 && offsetof(xdpfw_ct_key, addr_a) == 8);
static_assert(sizeof(xdpfw_ct_entry) == 16);
static_assert(sizeof(xdpfw_ct_info) == 32);
static_assert(XDPFW_CT_NONE + 1 == XDPFW_CT_SLOTS);

} // namespace xdpfw::abi
