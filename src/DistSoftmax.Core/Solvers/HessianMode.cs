namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The curvature model of Newton-type solvers. Auto (the default) is a hybrid Gauss–Newton / Newton method:
/// it starts with the positive-semidefinite Gauss–Newton Hessian JᵀJ, switches to the exact Hessian once a
/// full step (t = 1) is accepted, and goes back to Gauss–Newton whenever the exact model is indefinite.
/// Far from a minimiser this avoids the slow progress of modified Newton steps on the nonconvex softmax loss;
/// near it, the exact Hessian gives quadratic convergence even when the residual is not zero.
/// </summary>
public enum HessianMode { Auto, Exact, GaussNewton }
