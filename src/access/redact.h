// Minimum necessary: the elements a role may not see are removed from the
// resources it may see (docs/access-policy.md, "Redaction"). A whitelist per
// (role, type): anything not listed, extensions and narrative included, is
// removed, so a new element is hidden until someone decides otherwise.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

namespace medvault::access {

// Whether `role` sees `type` redacted at all.
bool redacts(std::string_view role, std::string_view type);

// Removes from `resource` what `role` may not see; returns whether anything
// was removed.
bool redact(std::string_view role, std::string_view type, boost::json::object& resource);

// For an update by a role that sees `type` redacted: removes from `incoming`
// what the role cannot see and copies those elements from `current`, so that
// writing back a redacted resource neither erases nor forges what the role
// never saw.
void keep_hidden(std::string_view role, std::string_view type, const boost::json::object& current,
                 boost::json::object& incoming);

}  // namespace medvault::access
