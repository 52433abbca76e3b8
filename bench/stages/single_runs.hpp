// SPDX-License-Identifier: GPL-2.0-only
// Per-packet cost of actions that rewrite the frame (action=syncookie), which
// a BPF_PROG_RUN repeat loop cannot time: the kernel does not restore the
// frame between repetitions, so the second run would see the SYN-ACK.
#pragma once

#include <string>

namespace xdpfw::bench {

// Times single BPF_PROG_RUN calls (repeat 1, a fresh frame each) of the
// no-op, a one-rule drop, a limited flood (every frame over the limit) and
// the SYN cookie answer, on 8 TCP SYN sources; the median of `calls` per
// frame. Returns a markdown table (ns and Mpps per program).
std::string single_run_table(int calls);

} // namespace xdpfw::bench
