#include "cnngen/mpi_processes.h"

#include "cnngen/error.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cnngen {

namespace {

// When another rank dies, mpirun ends the rest with SIGTERM: each says where it stood. The note
// is copied in whole before it is published, so the handler only reads a finished one.
std::array<std::array<char, 1024>, 2> stop_notes;
std::atomic<int> current_note{-1};

static_assert(std::atomic<int>::is_always_lock_free, "the signal handler reads current_note");

// Async-signal-safe: an atomic load, strlen and write.
void say_stop_note() {
    const int k = current_note.load();
    if (k < 0) return;
    const char *note = stop_notes[size_t(k)].data();
    ssize_t ignored = write(STDERR_FILENO, note, std::strlen(note));
    (void)ignored;
}

void say_stop_note_and_exit(int) {
    say_stop_note();
    _exit(143);  // 128 + SIGTERM, as if not caught
}

void check(int code, const char *call) {
    if (code == MPI_SUCCESS) return;
    say_stop_note();  // a collective fails when another rank died: where the run stood, first
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    runtime_fail("{} failed: {}", call, std::string(text, size_t(length)));
}

// MPI counts are ints: larger arrays go in pieces.
constexpr size_t kMaxPiece = size_t(1) << 30;

class MpiProcesses final : public ProcessGroup {
public:
    MpiProcesses() {
        check(MPI_Init(nullptr, nullptr), "MPI_Init");
        // Failures come back as codes, and so as errors naming the call, not as MPI's own abort.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
        check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    }
    ~MpiProcesses() override { MPI_Finalize(); }

    int rank() const override { return rank_; }
    int size() const override { return size_; }

    void sum(float *values, size_t count) override {
        for (size_t done = 0; done < count; done += kMaxPiece)
            check(MPI_Allreduce(MPI_IN_PLACE, values + done, int(std::min(kMaxPiece, count - done)), MPI_FLOAT,
                                MPI_SUM, MPI_COMM_WORLD),
                  "MPI_Allreduce");
    }

    void broadcast(void *bytes, size_t count) override {
        char *data = static_cast<char *>(bytes);
        for (size_t done = 0; done < count; done += kMaxPiece)
            check(MPI_Bcast(data + done, int(std::min(kMaxPiece, count - done)), MPI_BYTE, 0, MPI_COMM_WORLD),
                  "MPI_Bcast");
    }

    [[noreturn]] void abort(int exit_code) override {
        std::fflush(nullptr);
        MPI_Abort(MPI_COMM_WORLD, exit_code);
        std::exit(exit_code);  // MPI_Abort does not return; this is for the compiler
    }

    void set_stop_note(const std::string &note) override {
        const int next = current_note.load() == 0 ? 1 : 0;
        const std::string line = fmt::format("rank {} of {}: stopped (another process ended, or the job was "
                                             "cancelled); {}\n", rank_, size_, note);
        std::snprintf(stop_notes[size_t(next)].data(), stop_notes[size_t(next)].size(), "%s", line.c_str());
        current_note.store(next);
    }

private:
    int rank_ = 0, size_ = 1;
};

}  // namespace

std::unique_ptr<ProcessGroup> join_mpi_job() {
    if (launched_process_count() == 1) return std::make_unique<ProcessGroup>();
    auto processes = std::make_unique<MpiProcesses>();
    // mpirun ends the other ranks with SIGTERM when one dies: they say where the run stood.
    std::signal(SIGTERM, say_stop_note_and_exit);
    return processes;
}

}  // namespace cnngen
