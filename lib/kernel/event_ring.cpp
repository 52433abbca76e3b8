// SPDX-License-Identifier: GPL-2.0-only
// EventRing: libbpf's ring_buffer over xdpfw_events.
#include "lib/kernel/event_ring.hpp"

#include "lib/kernel/loader.hpp"

#include "xdpfw_bpf.skel.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace xdpfw {

EventRing::EventRing(const XdpfwObject& obj, Handler handler) : handler_(std::move(handler))
{
    const int fd = bpf_map__fd(obj.skel()->maps.xdpfw_events);
    ring_ = ring_buffer__new(fd, &EventRing::on_sample, this, nullptr);
    if (!ring_)
        throw BpfError(errno, "open the event ring (xdpfw_events)");
}

EventRing::~EventRing()
{
    ring_buffer__free(ring_);
}

int EventRing::on_sample(void* ctx, void* data, size_t size)
{
    auto* self = static_cast<EventRing*>(ctx);
    // Every record is one whole xdpfw_event (events.h reserves sizeof);
    // copied out so the handler never reads ring memory being reused.
    xdpfw_event e{};
    std::memcpy(&e, data, size < sizeof(e) ? size : sizeof(e));
    if (e.cap_len > XDPFW_EVENT_SNAP_MAX)
        e.cap_len = XDPFW_EVENT_SNAP_MAX;
    self->handler_(e);
    return 0;
}

int EventRing::poll(int timeout_ms)
{
    const int n = ring_buffer__poll(ring_, timeout_ms);
    if (n == -EINTR)
        return 0;
    if (n < 0)
        throw BpfError(-n, "poll the event ring");
    return n;
}

int EventRing::drain()
{
    const int n = ring_buffer__consume(ring_);
    if (n < 0)
        throw BpfError(-n, "drain the event ring");
    return n;
}

} // namespace xdpfw
