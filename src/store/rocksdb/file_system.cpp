#include "store/rocksdb/file_system.h"

#include <filesystem>
#include <string_view>
#include <utility>

namespace chat::store::rocks {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

IOStatus injected(const FileFaults* faults) {
  return faults->no_space() ? IOStatus::NoSpace("injected fault: no space left on device")
                            : IOStatus::IOError("injected fault");
}

// Counts what reaches the file and what of it was synced; fails while the faults are on.
class GuardedFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  GuardedFile(std::unique_ptr<rocksdb::FSWritableFile> file,
              std::shared_ptr<GuardedFileSystem::Lengths> lengths, const FileFaults* faults)
      : FSWritableFileOwnerWrapper(std::move(file)),
        lengths_(std::move(lengths)),
        faults_(faults) {}

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    if (failing()) return injected(faults_);
    return counted(data.size(), target()->Append(data, options, dbg));
  }
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    if (failing()) return injected(faults_);
    return counted(data.size(), target()->Append(data, options, info, dbg));
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    if (failing()) return injected(faults_);
    return counted(data.size(), target()->PositionedAppend(data, offset, options, dbg));
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    if (failing()) return injected(faults_);
    return counted(data.size(), target()->PositionedAppend(data, offset, options, info, dbg));
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    const uint64_t written = lengths_->written.load();
    if (failing()) return injected(faults_);
    return synced(written, target()->Sync(options, dbg));
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    const uint64_t written = lengths_->written.load();
    if (failing()) return injected(faults_);
    return synced(written, target()->Fsync(options, dbg));
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& options,
                     IODebugContext* dbg) override {
    if (failing()) return injected(faults_);
    return target()->RangeSync(offset, nbytes, options, dbg);
  }

 private:
  bool failing() const { return faults_ != nullptr && faults_->failing(); }
  IOStatus counted(std::size_t n, IOStatus s) {
    if (s.ok()) lengths_->written.fetch_add(n);
    return s;
  }
  IOStatus synced(uint64_t written, IOStatus s) {
    if (s.ok()) lengths_->synced.store(written);
    return s;
  }

  const std::shared_ptr<GuardedFileSystem::Lengths> lengths_;
  const FileFaults* const faults_;
};

bool is_wal(const std::string& name) {
  return name.size() > 4 && std::string_view(name).substr(name.size() - 4) == ".log";
}

}  // namespace

GuardedFileSystem::GuardedFileSystem(std::shared_ptr<rocksdb::FileSystem> target,
                                     std::shared_ptr<FileFaults> faults)
    : FileSystemWrapper(std::move(target)), faults_(std::move(faults)) {}

IOStatus GuardedFileSystem::wrap(const std::string& name, IOStatus opened,
                                 std::unique_ptr<rocksdb::FSWritableFile>* result,
                                 uint64_t existing) {
  if (!opened.ok()) return opened;
  auto lengths = std::make_shared<Lengths>();
  lengths->written = existing;
  lengths->synced = existing;
  if (is_wal(name)) {
    std::lock_guard lock(mu_);
    wals_[name] = lengths;
  }
  *result = std::make_unique<GuardedFile>(std::move(*result), std::move(lengths), faults_.get());
  return opened;
}

IOStatus GuardedFileSystem::NewWritableFile(const std::string& name,
                                            const rocksdb::FileOptions& options,
                                            std::unique_ptr<rocksdb::FSWritableFile>* result,
                                            IODebugContext* dbg) {
  if (faults_ && faults_->failing()) return injected(faults_.get());
  return wrap(name, target()->NewWritableFile(name, options, result, dbg), result, 0);
}

IOStatus GuardedFileSystem::ReopenWritableFile(const std::string& name,
                                               const rocksdb::FileOptions& options,
                                               std::unique_ptr<rocksdb::FSWritableFile>* result,
                                               IODebugContext* dbg) {
  if (faults_ && faults_->failing()) return injected(faults_.get());
  uint64_t size = 0;
  if (!target()->GetFileSize(name, IOOptions(), &size, dbg).ok()) size = 0;
  return wrap(name, target()->ReopenWritableFile(name, options, result, dbg), result, size);
}

IOStatus GuardedFileSystem::ReuseWritableFile(const std::string& name, const std::string& old_name,
                                              const rocksdb::FileOptions& options,
                                              std::unique_ptr<rocksdb::FSWritableFile>* result,
                                              IODebugContext* dbg) {
  if (faults_ && faults_->failing()) return injected(faults_.get());
  return wrap(name, target()->ReuseWritableFile(name, old_name, options, result, dbg), result, 0);
}

Status GuardedFileSystem::cut_unsynced_wal_tails() {
  std::lock_guard lock(mu_);
  Status first = Ok{};
  for (auto it = wals_.begin(); it != wals_.end();) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(it->first, ec);
    if (ec) {  // gone: RocksDB deleted an obsolete log
      it = wals_.erase(it);
      continue;
    }
    const uint64_t synced = it->second->synced.load();
    if (size > synced) {
      std::filesystem::resize_file(it->first, synced, ec);
      if (ec && first.ok()) {
        first =
            make_error(Errc::unavailable, "rocksdb: cutting " + it->first + ": " + ec.message());
      }
    }
    ++it;
  }
  return first;
}

}  // namespace chat::store::rocks
