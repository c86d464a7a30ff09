#include "app/eval_command.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "knowledge/eval.hpp"
#include "storage/database.hpp"

namespace sb::app {

int eval(const std::string& dataset_dir, const std::string& split, const std::string& data_dir) {
  namespace fs = std::filesystem;
  std::string dir = data_dir;
  bool temporary = false;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "switchboard-eval-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("switchboard: cannot create a temporary directory");
      return 1;
    }
    dir = tmpl;
    temporary = true;
  }
  int code = 0;
  {
    core::StorageConfig storage;
    storage.data_dir = dir;
    auto db = storage::Database::open(storage);
    if (!db) {
      std::fprintf(stderr, "switchboard: %s\n", db.error().message.c_str());
      code = 1;
    } else {
      auto report = knowledge::evaluate(dataset_dir, split, **db);
      if (!report) {
        std::fprintf(stderr, "switchboard: eval: %s\n", report.error().message.c_str());
        code = 2;
      } else {
        std::fputs(knowledge::format_report(*report).c_str(), stdout);
      }
      (*db)->close();
    }
  }
  if (temporary) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return code;
}

}  // namespace sb::app
