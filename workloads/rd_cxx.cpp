// rd_cxx: a deterministic C++ workload for the session tests: demangled names in call chains
// (namespaces, templates, a virtual method, an operator, a lambda through std::sort).
//
//   rd_cxx [ROUNDS]     default 200 rounds
//
// Probe rd_cxx_leaf (extern "C", so `perf probe -x rd_cxx rd_cxx_leaf` needs no mangled name): it is called
// from shapes::Accumulator<T>::add (two instantiations), from shapes::Square::area (virtual), from
// shapes::operator+ and from the std::sort comparator lambda, so chains hold each kind of C++ name.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" __attribute__((noinline)) long rd_cxx_leaf(long x)
{
	static volatile long sink;
	sink += x;
	return sink;
}

namespace shapes {

struct Shape {
	virtual ~Shape() = default;
	virtual long area() const = 0;
};

struct Square : Shape {
	explicit Square(long s) : side(s) {}
	__attribute__((noinline)) long area() const override { return rd_cxx_leaf(side * side); }
	long side;
};

template <typename T> class Accumulator {
public:
	__attribute__((noinline)) void add(T value) { total += static_cast<T>(rd_cxx_leaf(static_cast<long>(value))); }
	T total{};
};

struct Point {
	long x, y;
};

__attribute__((noinline)) Point operator+(const Point &a, const Point &b)
{
	rd_cxx_leaf(a.x + b.x);
	return Point{a.x + b.x, a.y + b.y};
}

}  // namespace shapes

__attribute__((noinline)) static void one_round(int round)
{
	shapes::Accumulator<int> ints;
	shapes::Accumulator<double> doubles;
	ints.add(round);
	doubles.add(round * 0.5);
	shapes::Square square(round);
	const shapes::Shape &shape = square;
	shape.area();
	shapes::Point p = shapes::Point{1, 2} + shapes::Point{round, 3};
	std::vector<long> v{5, 3, 9, 1, p.x};
	std::sort(v.begin(), v.end(), [](long a, long b) { rd_cxx_leaf(a); return a < b; });
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
	for (int r = 0; r < rounds; r++)
		one_round(r);
	std::printf("%ld\n", rd_cxx_leaf(0));
	return 0;
}
