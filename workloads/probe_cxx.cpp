// pyperf probe workload (C++): namespaces, a class with methods and a constructor, overloads and a template,
// so that `perf probe -F` shows demangled names and -D resolves them (tests/golden/probe).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace shapes {

class Circle {
public:
	explicit Circle(double r) : radius_(r) {}
	__attribute__((noinline)) double area() const { return 3.14159 * radius_ * radius_; }
	__attribute__((noinline)) void scale(double f) { radius_ *= f; }
private:
	double radius_;
};

__attribute__((noinline)) int describe(int n) { return n + 1; }
__attribute__((noinline)) int describe(const std::string &s) { return static_cast<int>(s.size()); }

template <typename T>
__attribute__((noinline)) T twice(T v) { return v + v; }

}  // namespace shapes

__attribute__((noinline)) int plain_function(int x) { return x * 3; }

int main(int argc, char **argv)
{
	int iters = argc > 1 ? std::atoi(argv[1]) : 3;
	double total = 0;
	std::vector<shapes::Circle> circles;
	for (int i = 0; i < iters; i++) {
		circles.emplace_back(1.0 + i);
		circles.back().scale(2.0);
		total += circles.back().area();
		total += shapes::describe(i) + shapes::describe(std::string("abc"));
		total += shapes::twice(i) + shapes::twice(1.5);
		total += plain_function(i);
	}
	std::printf("%.1f\n", total);
	return 0;
}
