#include "connectors/claim_renewer.hpp"

#include <exception>
#include <iostream>
#include <vector>

namespace seke {

ClaimRenewer::ClaimRenewer(Renew renew, Log log, std::chrono::milliseconds every)
    : renew_(std::move(renew)), log_(std::move(log)), every_(every), thread_([this] { run(); }) {}

ClaimRenewer::~ClaimRenewer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void ClaimRenewer::hold(const std::string& key) {
    {
        std::lock_guard lock(mutex_);
        keys_.insert(key);
    }
    wake_.notify_all();  // the first claim held starts the clock
}

void ClaimRenewer::drop(const std::string& key) {
    {
        std::lock_guard lock(mutex_);
        if (auto it = keys_.find(key); it != keys_.end()) keys_.erase(it);
    }
    std::lock_guard wait_for_round(renewing_);  // a round that took the key before it went ends first
}

std::size_t ClaimRenewer::held() const {
    std::lock_guard lock(mutex_);
    return keys_.size();
}

void ClaimRenewer::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (keys_.empty()) {
            wake_.wait(lock, [this] { return stopping_ || !keys_.empty(); });
            continue;
        }
        if (wake_.wait_for(lock, every_, [this] { return stopping_; })) break;
        // renewing_ before mutex_, always: the order drop() relies on, and never the other.
        lock.unlock();
        std::lock_guard round(renewing_);
        std::set<std::string> keys;
        {
            std::lock_guard again(mutex_);
            if (stopping_) break;
            keys.insert(keys_.begin(), keys_.end());
        }
        for (const auto& key : keys) {
            {
                std::lock_guard still(mutex_);
                if (stopping_) break;
                if (!keys_.contains(key)) continue;  // dropped since the round began
            }
            try {
                renew_(key);
            } catch (const std::exception& e) {
                const std::string line = std::string("claim renewal failed: ") + e.what();
                if (log_) {
                    log_(line);
                } else {
                    std::cerr << "seke: " << line << '\n';
                }
            }
        }
        lock.lock();
    }
}

}  // namespace seke
