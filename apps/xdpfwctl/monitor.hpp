// SPDX-License-Identifier: GPL-2.0-only
// `xdpfwctl monitor` and `xdpfwctl capture`: the two readers of the daemon's
// event stream (docs/PROTOCOL.md, "Streams"). monitor prints one line per
// event; capture writes the events' frames as pcapng (pcapng.hpp).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace CLI {
class App;
}

namespace xdpfw::ctl {

struct StreamArgs {
    enum class Kind { none, monitor, capture };
    Kind kind = Kind::none;
    std::optional<uint32_t> rule;
    std::optional<std::string> reason;
    std::string file;                // capture -w
    std::optional<uint64_t> count;   // stop after this many events
    std::optional<double> duration;  // stop after this many seconds
};

// Adds the monitor and capture subcommands; the chosen one sets args.kind.
// json: monitor's --json (the CLI's shared flag).
void add_stream_commands(CLI::App& app, StreamArgs& args, bool& json);

// Runs the chosen stream command until --count, --duration, SIGINT or
// SIGTERM. Throws ClientError as request() does.
int run_stream(const StreamArgs& args, const std::string& socket, double timeout, bool json,
               std::ostream& out, std::ostream& err);

// monitor's line for one event object (the stream's "event"):
// "TIME IFACE rule ID [TEXT] VERDICT REASON PROTO SRC:SPORT > DST:DPORT len N".
std::string format_event(const nlohmann::json& ev);
// capture's packet comment: "rule=ID verdict=V reason=R" (rule=none without one).
std::string capture_comment(const nlohmann::json& ev);

} // namespace xdpfw::ctl
