// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's receiving ends past the DUT's hook (the pass path's UDP
// socket, the xsk path's AF_XDP worker) and the DUT namespace's stack error
// counters, the check that the generator's frames are valid.
#pragma once

#include "bench/suite/duts.hpp"

#include <atomic>
#include <cstdint>
#include <thread>

namespace xdpfw::bench {

// What received the frames past the DUT's hook, counted per trial: the
// pass path's socket, the xsk path's AF_XDP worker.
class Receiver {
public:
    virtual ~Receiver() = default;
    virtual uint64_t count() const = 0;
    virtual const char* what() const = 0;
    // Waits until nothing more arrives for 50 ms (the queue is drained).
    void settle() const;
};

// The xsk path: the AF_XDP worker's rx counter.
class WorkerSink : public Receiver {
public:
    explicit WorkerSink(Dut& dut) : dut_(&dut) {}
    uint64_t count() const override { return dut_->worker_received(); }
    const char* what() const override { return "the AF_XDP worker"; }

private:
    Dut* dut_;
};

// A UDP socket in the DUT namespace on the traffic's destination, read by a
// thread on the CPUs the generator does not use: the pass path's proof of
// delivery.
class SocketSink : public Receiver {
public:
    explicit SocketSink(const Lab& lab);
    ~SocketSink() override;
    uint64_t count() const override { return count_.load(); }
    const char* what() const override { return "the socket in the DUT namespace"; }

private:
    void read_loop();

    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> count_{0};
    std::thread reader_;
};

// Ip InHdrErrors + Udp InCsumErrors of the DUT namespace: frames the stack
// refused for a bad header or checksum (the generator must produce none).
uint64_t stack_errors(const Lab& lab);

} // namespace xdpfw::bench
