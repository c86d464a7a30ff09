#pragma once
// A value replaced whole while readers keep using the one they took (config reload: the auth
// keys, the CORS policy). Readers take a shared_ptr and hold it for as long as they use it; a
// replacement never waits for them, and the old value goes when its last reader lets go.

#include <atomic>
#include <memory>
#include <utility>

namespace sb::core {

template <class T>
class Swappable {
 public:
  explicit Swappable(std::shared_ptr<const T> value) : value_(std::move(value)) {}
  std::shared_ptr<const T> get() const { return value_.load(std::memory_order_acquire); }
  void set(std::shared_ptr<const T> value) { value_.store(std::move(value), std::memory_order_release); }

 private:
  std::atomic<std::shared_ptr<const T>> value_;
};

}  // namespace sb::core
