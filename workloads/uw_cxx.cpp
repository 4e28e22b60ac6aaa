// Unwinding workload (tests/golden/unwind): C++ without frame pointers. The probed uw_cxx_leaf is reached
// through virtual calls, std::sort's comparator, std::function, and a catch after a throw through frames.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#define NOINLINE __attribute__((noinline))

volatile long uw_cxx_sink;

NOINLINE long uw_cxx_leaf(long x) { uw_cxx_sink += x; return uw_cxx_sink; }

namespace shapes {
struct Shape {
    virtual ~Shape() = default;
    virtual long area(long k) const = 0;
};
struct Square : Shape {
    long side;
    explicit Square(long s) : side(s) {}
    NOINLINE long area(long k) const override { return uw_cxx_leaf(side * side + k); }
};
template <typename T> struct Scaled : Shape {
    T inner;
    explicit Scaled(long s) : inner(s) {}
    NOINLINE long area(long k) const override { return inner.area(k) * 2; }
};
}  // namespace shapes

NOINLINE void uw_cxx_sort(long seed) {
    std::vector<long> v(48);
    for (size_t i = 0; i < v.size(); i++) v[i] = (seed * 31 + long(i) * 7919) % 101;
    std::sort(v.begin(), v.end(), [](long a, long b) {
        if (((a ^ b) & 31) == 0) uw_cxx_leaf(a);
        return a < b;
    });
}

NOINLINE long uw_cxx_thrower(long x) {
    uw_cxx_leaf(x);
    if (x % 3 == 0) throw std::runtime_error("uw");
    return x;
}

NOINLINE long uw_cxx_catch(long x) {
    try {
        return uw_cxx_thrower(x);
    } catch (const std::exception &) {
        return uw_cxx_leaf(-x);
    }
}

int main() {
    std::vector<std::unique_ptr<shapes::Shape>> all;
    all.emplace_back(new shapes::Square(3));
    all.emplace_back(new shapes::Scaled<shapes::Square>(4));
    std::function<long(long)> fn = [&](long k) { return all[k % 2]->area(k); };
    long total = 0;
    for (long i = 0; i < 30; i++) {
        total += fn(i);
        uw_cxx_sort(i);
        total += uw_cxx_catch(i);
    }
    std::printf("%ld\n", total);
    return 0;
}
