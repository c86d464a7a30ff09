#pragma once
// An exclusive lock on a data directory (flock on <data_dir>/switchboard.lock, which holds the
// holder's pid), so that two servers never run on one data dir: the second would run the same
// jobs and write the same vector files. The kernel drops the lock when the holder exits, however
// it exits, so a crash never leaves a stale lock behind.

#include <string>

#include "core/error.hpp"

namespace sb::storage {

class DataDirLock {
 public:
  // Creates the dir if needed and takes the lock. ErrorKind::conflict naming the holder's pid
  // when another process has it.
  static core::Result<DataDirLock> acquire(const std::string& data_dir);
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  DataDirLock(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace sb::storage
