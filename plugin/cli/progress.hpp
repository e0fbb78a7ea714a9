#pragma once
// Progress of `seke label`: a bar redrawn in place on a terminal, plain lines otherwise.
#include <chrono>
#include <cstdio>
#include <string>

#include "plugin/labeling/label_run.hpp"

namespace seke {

class ProgressPrinter {
  public:
    ProgressPrinter(std::FILE* out, bool terminal, double interval_s);
    void update(const RunProgress& progress);
    void finish(const RunProgress& progress);

    static std::string line(const RunProgress& progress, bool with_bar);

  private:
    std::FILE* out_;
    bool terminal_;
    double interval_s_;
    std::chrono::steady_clock::time_point last_;
    bool printed_ = false;
};

}  // namespace seke
