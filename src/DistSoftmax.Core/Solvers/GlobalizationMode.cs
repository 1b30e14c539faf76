namespace DistSoftmax.Core.Solvers;

/// <summary>
/// How Newton-type solvers globalise their steps: backtracking line search inside a trust radius, or a trust region
/// whose subproblem is solved exactly (Moré–Sorensen on an explicit Hessian) or by Steihaug–Toint CG. Auto takes each
/// solver's measured default (<see cref="SolverCatalog.DefaultGlobalization"/>).
/// </summary>
public enum GlobalizationMode { Auto, LineSearch, TrustRegion }
