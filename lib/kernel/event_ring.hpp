// SPDX-License-Identifier: GPL-2.0-only
// The consumer of the XDP program's event ring (xdpfw_events, a
// BPF_MAP_TYPE_RINGBUF; abi.h struct xdpfw_event) through libbpf's
// ring_buffer API: poll() hands each waiting event to the callback.
#pragma once

#include <xdpfw/abi.h>

#include <functional>
#include <memory>

struct ring_buffer;

namespace xdpfw {

class XdpfwObject;

class EventRing {
public:
    // Called on the polling thread for every event, in ring order.
    using Handler = std::function<void(const xdpfw_event&)>;

    // Opens the ring of a loaded object (its pinned map when re-adopted).
    // Throws BpfError.
    EventRing(const XdpfwObject& obj, Handler handler);
    ~EventRing();
    EventRing(const EventRing&) = delete;
    EventRing& operator=(const EventRing&) = delete;

    // Waits up to timeout_ms for events and consumes every one waiting.
    // Returns how many were handled; throws BpfError on a ring error (EINTR
    // counts as 0).
    int poll(int timeout_ms);
    // Consumes what is waiting without blocking.
    int drain();

private:
    static int on_sample(void* ctx, void* data, size_t size);
    Handler handler_;
    ring_buffer* ring_ = nullptr;
};

} // namespace xdpfw
