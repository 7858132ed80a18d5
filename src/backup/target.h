// Where backups are kept: a directory (a mounted NAS or USB disk) or an SFTP
// server. A target is a flat store of named objects; names are relative
// paths of the form "manifests/0000000001", "chunks/ab/<id>" (docs/formats/
// backup.md). The interface is small enough for object storage (S3 and the
// like: list by prefix, whole-object put/get, delete).
//
// A target is untrusted: everything read from it is checked by the caller
// (signatures, hashes, AEAD). Implementations are used by one thread.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace medvault::backup {

class Target {
 public:
  virtual ~Target() = default;
  // For messages: the URL or path, without secrets.
  virtual std::string describe() const = 0;
  // Every object name under `prefix` (a folder such as "manifests"), at any
  // depth, in no particular order. An absent folder is empty.
  virtual Result<std::vector<std::string>> list(const std::string& prefix) = 0;
  // Atomic: readers see the old object or the whole new one (temporary name,
  // then rename). Folders are created as needed.
  virtual Status put(const std::string& name, std::string_view bytes) = 0;
  // As put, but the object is durable only after the next sync(): a backup
  // writes its many chunks this way and syncs once, before the manifest that
  // names them (one fsync per chunk and directory cost more than the
  // compression). A crash before sync() may leave a torn object under its
  // final name; no manifest names it, and a later put replaces it.
  virtual Status put_unsynced(const std::string& name, std::string_view bytes) { return put(name, bytes); }
  // Makes every object put_unsynced so far durable.
  virtual Status sync() { return ok_status(); }
  // Errc::not_found if absent; Errc::too_large beyond max_size.
  virtual Result<std::string> get(const std::string& name, size_t max_size) = 0;
  virtual Result<bool> exists(const std::string& name) = 0;
  virtual Status remove(const std::string& name) = 0;  // absent: ok
};

// A directory target; `create` makes the directory if it is missing.
Result<std::unique_ptr<Target>> open_directory_target(const std::filesystem::path& dir, bool create);

struct SftpOptions {
  std::string identity_file;  // private key (key-based authentication only)
  std::string known_hosts;    // known_hosts file; the server's key must be in it
};

// sftp://user@host[:port]/path (path relative to the login directory, or
// absolute with a double slash: sftp://u@h//srv/backup). The server's host
// key must be listed in options.known_hosts: an unknown or changed key is
// refused (Errc::unauthenticated).
Result<std::unique_ptr<Target>> open_sftp_target(const std::string& url, const SftpOptions& options);

// "sftp://..." or a directory path.
Result<std::unique_ptr<Target>> open_target(const std::string& spec, const SftpOptions& options, bool create);

// REQUIRES-style check shared by implementations: a name is relative, made
// of [A-Za-z0-9._-] segments separated by '/', without "." or "..".
bool valid_object_name(std::string_view name);

}  // namespace medvault::backup
