#include "core/event_bus.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace sb::core {

Subscription::Subscription(boost::asio::any_io_executor ex, std::optional<std::string> owner, MailboxLimits limits)
    : wake(ex), owner_(std::move(owner)), limits_(limits) {}

bool Subscription::watch(const std::string& topic, const std::string& id) {
  std::lock_guard lock(mu_);
  if (filters_.count({topic, id})) return true;
  if (filters_.size() >= limits_.max_filters) return false;
  filters_.insert({topic, id});
  return true;
}

bool Subscription::unwatch(const std::string& topic, const std::string& id) {
  std::lock_guard lock(mu_);
  return filters_.erase({topic, id}) > 0;
}

std::size_t Subscription::filters() const {
  std::lock_guard lock(mu_);
  return filters_.size();
}

std::vector<std::shared_ptr<const BusEvent>> Subscription::take() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<const BusEvent>> out(queue_.begin(), queue_.end());
  queue_.clear();
  bytes_ = 0;
  return out;
}

bool Subscription::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

bool Subscription::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void Subscription::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

std::size_t Subscription::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool Subscription::offer(const std::shared_ptr<const BusEvent>& e) {
  std::lock_guard lock(mu_);
  if (dropped_) return false;
  if (owner_ && *owner_ != e->owner) return false;
  if (!filters_.count({e->topic, e->id}) && !filters_.count({e->topic, ""})) return false;
  if (queue_.size() + 1 > limits_.max_events || bytes_ + e->data.size() > limits_.max_bytes) {
    dropped_ = true;
    queue_.clear();  // (the memory goes now, not when the connection ends)
    bytes_ = 0;
    return true;
  }
  queue_.push_back(e);
  bytes_ += e->data.size();
  return true;
}

std::shared_ptr<Subscription> EventBus::subscribe(boost::asio::any_io_executor ex, std::optional<std::string> owner,
                                                  MailboxLimits limits) {
  auto s = std::make_shared<Subscription>(std::move(ex), std::move(owner), limits);
  std::lock_guard lock(mu_);
  subs_.push_back(s);
  return s;
}

void EventBus::unsubscribe(const std::shared_ptr<Subscription>& s) {
  std::lock_guard lock(mu_);
  subs_.erase(std::remove(subs_.begin(), subs_.end(), s), subs_.end());
}

void EventBus::publish(BusEvent e) {
  auto event = std::make_shared<const BusEvent>(std::move(e));
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard lock(mu_);
    ++published_;
    subs = subs_;
  }
  for (auto& s : subs) {
    const bool was_dropped = s->dropped();
    if (!s->offer(event)) continue;
    if (!was_dropped && s->dropped()) {
      std::lock_guard lock(mu_);
      ++dropped_;
    }
    boost::asio::post(s->wake.get_executor(), [s] { s->wake.cancel(); });
  }
}

void EventBus::close_all() {
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard lock(mu_);
    subs = subs_;
  }
  for (auto& s : subs) {
    s->close();
    boost::asio::post(s->wake.get_executor(), [s] { s->wake.cancel(); });
  }
}

std::size_t EventBus::subscribers() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

long long EventBus::dropped_total() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

long long EventBus::published_total() const {
  std::lock_guard lock(mu_);
  return published_;
}

}  // namespace sb::core
