// SPDX-License-Identifier: GPL-2.0-only
// push_policy() and read_policy().
#include "lib/fleet/publish.hpp"

#include <set>

namespace xdpfw::fleet {

PushResult push_policy(EtcdClient& c, const FleetKeys& keys, const Policy& policy,
                       const std::string& summary, std::optional<int64_t> expect_revision)
{
    Bundle b = make_bundle(policy, summary);
    PushResult r;
    RangeOptions ko;
    ko.range_end = prefix_end(keys.chunks());
    ko.keys_only = true;
    std::set<std::string> present;
    for (const KeyValue& kv : c.range(keys.chunks(), ko).kvs)
        present.insert(kv.key.substr(keys.chunks().size()));
    for (const auto& [id, bytes] : b.chunks) {
        if (present.count(id)) {
            ++r.chunks_kept;
            continue;
        }
        c.put(keys.chunk(id), bytes);
        ++r.chunks_written;
    }
    int64_t expect = 0;
    if (expect_revision) {
        expect = *expect_revision;
    } else if (auto cur = c.get(keys.policy())) {
        expect = cur->mod_revision;
    }
    const TxnResult t =
        c.txn({{keys.policy(), Compare::Target::mod, Compare::Result::equal, expect}},
              {{TxnOp::Kind::put, keys.policy(), b.manifest.dump(), 0}});
    if (!t.succeeded)
        throw EtcdError("another push changed " + keys.policy() +
                        " since it was read; nothing was changed: try again");
    r.revision = t.revision;
    // Garbage: chunks the new manifest does not name.
    for (const std::string& id : present)
        if (!b.chunks.count(id)) {
            c.del(keys.chunk(id));
            ++r.chunks_deleted;
        }
    return r;
}

FleetPolicy open_policy(EtcdClient& c, const FleetKeys& keys, const KeyValue& manifest,
                        ChunkCache* cache)
{
    FleetPolicy out;
    out.revision = manifest.mod_revision;
    ChunkCache used;
    out.policy = open_bundle(manifest.value, [&](const std::string& id) -> std::optional<std::string> {
        if (cache) {
            if (auto it = cache->find(id); it != cache->end()) {
                ++out.chunks_reused;
                return used.emplace(id, it->second).first->second;
            }
        }
        // At the manifest's revision: a later push may have collected it.
        auto kv = c.get(keys.chunk(id), manifest.mod_revision);
        if (!kv)
            return std::nullopt;
        ++out.chunks_read;
        if (cache)
            used.emplace(id, kv->value);
        return std::move(kv->value);
    });
    if (cache)
        *cache = std::move(used);
    const auto m = nlohmann::json::parse(manifest.value, nullptr, false);
    if (m.is_object())
        out.summary = m.value("summary", "");
    return out;
}

std::optional<FleetPolicy> read_policy(EtcdClient& c, const FleetKeys& keys)
{
    auto kv = c.get(keys.policy());
    if (!kv)
        return std::nullopt;
    return open_policy(c, keys, *kv);
}

} // namespace xdpfw::fleet
