// Phase timing of one engine call, for finding where the time goes: with the environment variable
// SEGLOSSES_PROFILE set (to anything but 0), each phase's wall time is printed to stderr when the call
// ends, one line per call, e.g. "seglosses profile matching: rank 0.012 top 0.034 ... total 0.31". Off,
// it costs one getenv per call. On Linux the line ends with the resident memory (MB) at each mark and the
// process's peak by then ("| rss MB: rank 120/130 ... peak 560"), for finding where the memory goes.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
    resident_.push_back(resident_mb("VmRSS:"));
    peak_.push_back(resident_mb("VmHWM:"));
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
    std::snprintf(buffer, sizeof buffer, " total %.4f",
                  std::chrono::duration<double>(Clock::now() - start_).count());
    line += buffer;
    if (resident_mb("VmHWM:") >= 0) {
      line += " | rss MB:";
      for (std::size_t i = 0; i < phases_.size(); ++i) {
        std::snprintf(buffer, sizeof buffer, " %s %.0f/%.0f", phases_[i].first, resident_[i], peak_[i]);
        line += buffer;
      }
      std::snprintf(buffer, sizeof buffer, " peak %.0f", resident_mb("VmHWM:"));
      line += buffer;
    }
    line += "\n";
    std::fputs(line.c_str(), stderr);
  }

  // A line of /proc/self/status (e.g. "VmRSS:", "VmHWM:") in MB; -1 where there is none.
  static double resident_mb(const char* key) {
    std::FILE* file = std::fopen("/proc/self/status", "r");
    if (!file) return -1;
    char row[256];
    double kb = -1;
    const std::size_t n = std::strlen(key);
    while (std::fgets(row, sizeof row, file))
      if (std::strncmp(row, key, n) == 0) {
        kb = std::atof(row + n);
        break;
      }
    std::fclose(file);
    return kb < 0 ? -1 : kb / 1024;
  }

 private:
  using Clock = std::chrono::steady_clock;
  const char* what_;
  bool on_;
  Clock::time_point start_, last_;
  std::vector<std::pair<const char*, double>> phases_;
  std::vector<double> resident_, peak_;
};

}  // namespace seglosses
