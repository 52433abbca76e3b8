// SPDX-License-Identifier: GPL-2.0-only
// The tests use the lab topology helpers of testing/lab_netns.hpp (shared
// with xdpfw-bench) under their old names in xdpfw::test.
#pragma once

#include "testing/lab_netns.hpp"

namespace xdpfw::test {

using lab::CmdResult;
using lab::EnterNetns;
using lab::live_namespaces;
using lab::NetNs;
using lab::ping;
using lab::run;
using lab::run_checked;
using lab::run_in;
using lab::run_in_checked;
using lab::send_udp;
using lab::socket_in;
using lab::tcp_connect;
using lab::tcp_outcome_name;
using lab::TcpListener;
using lab::TcpOutcome;
using lab::UdpFrameCounter;
using lab::UdpReceiver;
using lab::VethEnd;
using lab::VethPair;
using lab::ifindex_in;

} // namespace xdpfw::test
