"""Hydra's Ray and submitit launchers as the harness runs them (Hydra instantiates launchers only from
`hydra_plugins`); selected by conf/hydra/launcher/{ray,slurm,submitit_local}.yaml. See harness/cluster.py."""
