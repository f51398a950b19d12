#include <chrono>
#include <cstdio>
#include "tkfac/cosim/backends.hpp"
#include "tkfac/kfac/dataset.hpp"
#include "tkfac/kfac/mlp.hpp"
#include "tkfac/kfac/optimizer_factory.hpp"
#include "tkfac/solver/registry.hpp"
namespace kf = tkfac::kfac; using namespace tkfac::solver;
struct Rec : LinearSolver { std::unique_ptr<LinearSolver> in; Rec(std::unique_ptr<LinearSolver> i):in(std::move(i)){}
 std::string_view name() const override {return in->name();}
 Solution solve(const Eigen::MatrixXd& m,const Eigen::MatrixXd& b,double d) override {return in->solve(m,b,d);}
 SolveCost cost(const SolveShape& s) const override {return in->cost(s);}
 std::vector<Solution> solve_all(const std::vector<SolveRequest>& rs) override { std::vector<Solution> o; for (auto& r: rs){auto t=std::chrono::steady_clock::now(); o.push_back(in->solve_request(r)); double s=std::chrono::duration<double>(std::chrono::steady_clock::now()-t).count(); std::printf("%s n=%ld runs=%ld %.3f s steps=%ld\n", r.label.c_str(), (long)shape_of(r).n, in->cost(shape_of(r)).circuit_runs, s, o.back().report.simulator_steps);} return o;}
};
int main(int argc,char**argv){ tkfac::cosim::register_backends(); set_solver_decorator([](std::unique_ptr<LinearSolver> s){return std::make_unique<Rec>(std::move(s));});
 kf::FashionMnistOptions fo; fo.pool=4; fo.limit=64*4; auto train=kf::load_fashion_mnist(kf::Split::train,fo);
 kf::OptimizerConfig cfg; cfg.name="kfac"; cfg.kfac.solver.backend="spice"; if(argc>1) cfg.kfac.solver.netlist.noise_variance=1e-3;
 kf::Mlp net({49,32,10},kf::Activation::tanh,1); auto opt=kf::make_optimizer(cfg);
 for(int s=0;s<2;++s){ std::printf("step %d\n",s); opt->step(net, train.slice(64L*s,64)); } }
