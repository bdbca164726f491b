// Phase timing of one engine call, for finding where the time goes: with the environment variable
// SEGLOSSES_PROFILE set (to anything but 0), each phase's wall time is printed to stderr when the call
// ends, one line per call, e.g. "seglosses profile matching: rank 0.012 top 0.034 ... total 0.31". Off,
// it costs one getenv per call.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace seglosses {

class PhaseTimer {
 public:
  explicit PhaseTimer(const char* what) : what_(what), on_(enabled()) {
    if (on_) start_ = last_ = Clock::now();
  }
  static bool enabled() {
    const char* env = std::getenv("SEGLOSSES_PROFILE");
    return env != nullptr && *env != '\0' && std::string(env) != "0";
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;
  // Ends the phase that began at the previous mark (or at construction).
  void mark(const char* phase) {
    if (!on_) return;
    const auto now = Clock::now();
    phases_.emplace_back(phase, std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }
  ~PhaseTimer() {
    if (!on_) return;
    std::string line = std::string("seglosses profile ") + what_ + ":";
    char buffer[64];
    for (const auto& [phase, seconds] : phases_) {
      std::snprintf(buffer, sizeof buffer, " %s %.4f", phase, seconds);
      line += buffer;
    }
    std::snprintf(buffer, sizeof buffer, " total %.4f\n",
                  std::chrono::duration<double>(Clock::now() - start_).count());
    line += buffer;
    std::fputs(line.c_str(), stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  const char* what_;
  bool on_;
  Clock::time_point start_, last_;
  std::vector<std::pair<const char*, double>> phases_;
};

}  // namespace seglosses
