#pragma once
// The file system under RocksStore's database: the default one, plus what the store needs to keep
// a failed commit invisible, and the test hook that makes files fail.
//
// Why the WAL tails: when the fsync of a commit fails, its bytes may already be in the write-ahead
// log (the write succeeded, only the sync did not). RocksDB then stops writing, but reopening the
// database would replay them and resurrect a batch whose writers were told `unavailable`. So this
// file system remembers, for each log file it opened, how much of it was last synced, and the
// store cuts every log back to that length after closing the database and before reopening it.
//
// Internal to store/rocksdb. Thread-safe.
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "store/rocksdb/rocks_store.h"

namespace chat::store::rocks {

class GuardedFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  GuardedFileSystem(std::shared_ptr<rocksdb::FileSystem> target,
                    std::shared_ptr<FileFaults> faults);

  static const char* kClassName() { return "ChatGuardedFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;

  // Truncates every log file opened so far to its last synced length. Call only while the
  // database is closed. Returns the first failure.
  Status cut_unsynced_wal_tails();

  // Bytes of one writable file: written so far, and synced so far.
  struct Lengths {
    std::atomic<uint64_t> written{0};
    std::atomic<uint64_t> synced{0};
  };

 private:
  rocksdb::IOStatus wrap(const std::string& name, rocksdb::IOStatus opened,
                         std::unique_ptr<rocksdb::FSWritableFile>* result, uint64_t existing);

  const std::shared_ptr<FileFaults> faults_;  // null outside tests
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Lengths>> wals_;  // guarded by mu_
};

}  // namespace chat::store::rocks
