#include "storage/data_dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sb::storage {

using core::Error;
using core::ErrorKind;

core::Result<DataDirLock> DataDirLock::acquire(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Error(ErrorKind::unavailable, "cannot create data dir " + data_dir + ": " + ec.message(), {}, "storage");
  const std::string path = (std::filesystem::path(data_dir) / "switchboard.lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error(ErrorKind::unavailable, "cannot open " + path + ": " + std::strerror(errno), {}, "storage");
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (err != EWOULDBLOCK) {
      return Error(ErrorKind::unavailable, "cannot lock " + path + ": " + std::strerror(err), {}, "storage");
    }
    return Error(ErrorKind::conflict,
                 "data dir " + data_dir + " is in use by another switchboard" +
                     (holder.empty() ? std::string() : " (pid " + holder + ")") +
                     "; stop it or give this one another --data-dir",
                 {}, "storage");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock is held all the same; only the message a second server prints lacks the pid.
  }
  return DataDirLock(fd);
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace sb::storage
