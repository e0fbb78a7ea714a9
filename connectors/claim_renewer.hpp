#pragma once
// Claims on work in flight that processes sharing one store must not do twice: a model request
// (the shared response cache), a task being predicted (serve replicas). A claim is short and is
// made again while its work runs, so a slow request never loses it, and the work of a process
// that dies is free again within one claim's length. Whoever finds another's claim looks again
// a little later.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace seke {

// A claim not made again runs out after this.
inline constexpr std::chrono::milliseconds kClaimLength{10'000};
// The claims a process holds are made again this often: several renewals fit in one length.
inline constexpr std::chrono::milliseconds kClaimRenewal{2'000};
// Who waits on another process's claim looks again this often.
inline constexpr std::chrono::milliseconds kClaimRecheck{250};

// The claims one process holds, made again every `every` on a thread of its own while held.
class ClaimRenewer {
  public:
    // Makes the claim on `key` again (for kClaimLength); may throw, which is logged.
    using Renew = std::function<void(const std::string& key)>;
    using Log = std::function<void(const std::string& line)>;

    explicit ClaimRenewer(Renew renew, Log log = {}, std::chrono::milliseconds every = kClaimRenewal);
    ~ClaimRenewer();  // stops renewing; the claims still held run out by themselves
    ClaimRenewer(const ClaimRenewer&) = delete;
    ClaimRenewer& operator=(const ClaimRenewer&) = delete;

    // A claim just made on `key`: renewed from now on. Held twice, it is held until dropped twice.
    void hold(const std::string& key);
    // Its work is done: no renewal of `key` starts after this returns, so a release that follows
    // is never undone by a renewal in flight.
    void drop(const std::string& key);
    [[nodiscard]] std::size_t held() const;

  private:
    void run();

    Renew renew_;
    Log log_;
    std::chrono::milliseconds every_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::multiset<std::string> keys_;  // under mutex_
    bool stopping_ = false;            // under mutex_
    std::mutex renewing_;              // held while a round of renewals runs
    std::thread thread_;
};

}  // namespace seke
